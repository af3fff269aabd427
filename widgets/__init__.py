"""tcpwatch widgets."""
