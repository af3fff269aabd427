"""tcpwatch capture."""
