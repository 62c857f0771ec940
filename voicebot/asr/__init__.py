"""Speech recognition: one streaming interface, several offline backends."""
