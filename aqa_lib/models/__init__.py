"""Models of the four papers and their baselines (one file per paper; shared blocks in ``blocks``)."""
