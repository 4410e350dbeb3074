"""Task data: the split files, the public /data folder candidates train on, and checksums."""
