"""Audio core: codecs, resampling, WAV files, voice activity detection, endpointing."""
