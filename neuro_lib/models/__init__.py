"""torch modules of the book: one file per model family."""
