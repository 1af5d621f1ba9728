"""smets-emu's emulator: device firmware models, the simulated HAN and SMWAN, and the CLI."""
