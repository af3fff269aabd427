use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use super::{channel, BATCH_BYTES, BATCH_FRAMES, SPARE_BATCHES};

/// Frame `no`: its number in its first 8 bytes, then `len - 8` bytes of `no as u8`.
fn frame(no: u64, len: usize) -> Vec<u8> {
    let mut out = no.to_be_bytes().to_vec();
    out.resize(len.max(8), no as u8);
    out
}

fn number_of(data: &[u8]) -> u64 {
    u64::from_be_bytes(data[..8].try_into().unwrap())
}

#[test]
fn a_stalled_consumer_costs_counted_queue_drops_never_a_wait() {
    // The consumer takes nothing while 10 batches are pushed on this very thread: a push that
    // waited for room would never return.
    let drops = Arc::new(AtomicU64::new(0));
    let (mut producer, consumer) = channel(2, drops.clone());
    let pushed = 10 * BATCH_FRAMES as u64;
    for no in 1..=pushed {
        assert!(producer.push(no as f64, 60, &frame(no, 60), 1));
    }
    assert_eq!(producer.drops(), pushed - 2 * BATCH_FRAMES as u64);
    producer.finish();
    let got: Vec<u64> = std::iter::from_fn(|| consumer.recv())
        .flat_map(|b| b.iter().map(|(no, ..)| no).collect::<Vec<_>>())
        .collect();
    // the first two batches were queued, every later one dropped whole
    assert_eq!(got, (1..=2 * BATCH_FRAMES as u64).collect::<Vec<_>>());
    assert_eq!(got.len() as u64 + drops.load(Ordering::Relaxed), pushed);
}

#[test]
fn a_slow_consumer_gets_every_frame_it_has_room_for_intact_and_numbered() {
    let drops = Arc::new(AtomicU64::new(0));
    let (mut producer, consumer) = channel(4, drops.clone());
    let (started, wait_started) = mpsc::channel();
    let (go, wait_go) = mpsc::channel::<()>();
    let tracker = thread::spawn(move || {
        let mut seen = Vec::new();
        let mut first = true;
        while let Some(batch) = consumer.recv() {
            if first {
                // stall on the first batch until the producer has pushed everything
                started.send(()).unwrap();
                wait_go.recv().unwrap();
                first = false;
            }
            for (no, ts, wire_len, data, linktype) in batch.iter() {
                assert_eq!(data, frame(no, 40 + (no % 200) as usize).as_slice());
                assert_eq!((ts, wire_len, linktype), (no as f64, 1500, 113));
                seen.push(no);
            }
            consumer.give_back(batch);
        }
        seen
    });
    let pushed = 30 * BATCH_FRAMES as u64;
    for no in 1..=pushed {
        if no == BATCH_FRAMES as u64 + 1 {
            wait_started.recv().unwrap(); // the consumer holds the first batch now
        }
        producer.push(no as f64, 1500, &frame(no, 40 + (no % 200) as usize), 113);
    }
    producer.flush();
    let dropped = drops.load(Ordering::Relaxed);
    go.send(()).unwrap();
    producer.finish();
    let seen = tracker.join().unwrap();
    assert!(dropped > 0);
    assert_eq!(seen.len() as u64 + dropped, pushed);
    // in capture order, the first batch and the queued ones whole, the dropped ones missing
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        seen[..BATCH_FRAMES],
        (1..=BATCH_FRAMES as u64).collect::<Vec<_>>()
    );
}

#[test]
fn frames_gathered_are_handed_over_at_a_flush_and_big_ones_travel_alone() {
    let (mut producer, consumer) = channel(8, Arc::default());
    producer.push(1.0, 60, &frame(1, 60), 1);
    producer.push(2.0, 60, &frame(2, 60), 1);
    assert!(producer.flush());
    let batch = consumer.recv().unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch.get(1).3, frame(2, 60).as_slice());
    consumer.give_back(batch);
    let big = BATCH_BYTES - 100;
    producer.push(3.0, 9000, &frame(3, 200), 1);
    producer.push(4.0, 9000, &frame(4, big), 1);
    producer.push(5.0, 9000, &frame(5, BATCH_BYTES + 1), 1);
    producer.finish();
    let batches: Vec<Vec<(u64, u64)>> = std::iter::from_fn(|| consumer.recv())
        .map(|b| {
            b.iter()
                .map(|(no, _, _, data, _)| (no, number_of(data)))
                .collect()
        })
        .collect();
    assert_eq!(batches, vec![vec![(3, 3)], vec![(4, 4)], vec![(5, 5)]]);
}

#[test]
fn the_capture_learns_when_tracking_is_gone() {
    let (mut producer, consumer) = channel(1, Arc::default());
    drop(consumer);
    producer.push(1.0, 60, &frame(1, 60), 1);
    assert!(!producer.flush());
    assert!(!producer.push(2.0, 60, &frame(2, 60), 1));
    assert_eq!(producer.drops(), 0);
}

#[test]
fn the_backlog_says_how_much_of_the_queue_waits_for_the_consumer() {
    let (mut producer, consumer) = channel(4, Arc::default());
    let backlog = consumer.backlog();
    assert_eq!(backlog.fill(), 0.0);
    for no in 1..=3u64 {
        producer.push(0.0, 60, &frame(no, 60), 1);
        producer.flush();
    }
    assert_eq!(backlog.fill(), 0.75);
    let taken = consumer.recv().map(|b| b.len());
    assert_eq!((taken, backlog.fill()), (Some(1), 0.5));
    for no in 4..=6u64 {
        producer.push(0.0, 60, &frame(no, 60), 1);
        producer.flush(); // the sixth finds the queue full: dropped, not waiting
    }
    assert_eq!((backlog.fill(), producer.drops()), (1.0, 1));
    producer.push(0.0, 60, &frame(7, 60), 1);
    drop(consumer.recv());
    producer.finish();
    assert_eq!(backlog.fill(), 1.0);
    while consumer.recv().is_some() {}
    assert_eq!(backlog.fill(), 0.0);
}

#[test]
fn the_batches_a_burst_made_are_freed_once_tracking_catches_up_but_a_few() {
    // A burst fills a queue of 20 batches while tracking is stalled; each flush needed a new
    // batch. Tracking then takes and gives back every one: SPARE_BATCHES stay to be filled
    // again, the others are freed. The next flushes reuse those spares, and frames still
    // arrive whole.
    let (mut producer, consumer) = channel(20, Arc::default());
    let backlog = consumer.backlog();
    for no in 1..=20u64 {
        producer.push(0.0, 60, &frame(no, 60), 1);
        assert!(producer.flush());
    }
    assert_eq!((backlog.fill(), backlog.idle()), (1.0, 0));
    for _ in 0..20 {
        let batch = consumer.recv().expect("a queued batch");
        consumer.give_back(batch);
    }
    assert_eq!(backlog.idle(), SPARE_BATCHES);
    for no in 21..=23u64 {
        producer.push(0.0, 60, &frame(no, 60), 1);
        assert!(producer.flush());
    }
    assert_eq!(backlog.idle(), SPARE_BATCHES - 3);
    producer.finish();
    let got: Vec<u64> = std::iter::from_fn(|| consumer.recv())
        .flat_map(|b| b.iter().map(|(no, ..)| no).collect::<Vec<_>>())
        .collect();
    assert_eq!(got, vec![21, 22, 23]);
}
