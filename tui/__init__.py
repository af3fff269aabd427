"""tcpwatch tui."""
