//! `-D` and the default interface, as the kernel lists the interfaces.

use _engine::live::{default_interface, interface_lines, interface_names, resolve_interface};

#[test]
fn dash_d_has_a_numbered_line_per_interface_then_any() {
    let lines = interface_lines();
    let names = interface_names();
    assert_eq!(lines.len(), names.len() + 1, "{lines:?}");
    let second = |line: &String| line.split_whitespace().nth(1).unwrap_or("").to_string();
    assert_eq!(
        lines
            .iter()
            .take(names.len())
            .map(second)
            .collect::<Vec<_>>(),
        names
    );
    assert_eq!(lines.last().map(second).as_deref(), Some("any"));
    let lo = lines
        .iter()
        .find(|l| second(l) == "lo")
        .expect("lo is listed");
    assert!(
        lo.contains("[up, loopback]") && lo.contains("127.0.0.1") && lo.contains("::1"),
        "{lo}"
    );
}

#[test]
fn the_default_interface_is_one_of_them() {
    let chosen = default_interface();
    assert!(interface_names().contains(&chosen), "{chosen}");
}

#[test]
fn names_and_any_resolve() {
    assert!(interface_names().contains(&"lo".to_string()));
    assert_eq!(resolve_interface(Some("any")).as_deref(), Ok("any"));
    assert_eq!(resolve_interface(Some("lo")).as_deref(), Ok("lo"));
    let err = resolve_interface(Some("bad\x01name")).unwrap_err();
    assert!(
        err.starts_with("no such interface 'bad?name'; available: "),
        "{err}"
    );
}
