"""The bridge from the emulator's HAN to real ZigBee radios through zigpy (not yet built)."""
