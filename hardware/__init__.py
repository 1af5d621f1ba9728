"""The bridge from the emulator's HAN to real ZigBee radios through zigpy: ``radio.py`` builds
each radio library's configuration; the transport is still to come (issue 10)."""
