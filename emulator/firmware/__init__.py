"""Firmware shared by every device type: the device model, the checks, and the command path."""
