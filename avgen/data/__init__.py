"""The offline audio-visual data kit: speech, phone timing, lips, noise, mixtures, datasets."""
