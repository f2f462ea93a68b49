"""Generic helpers with no business words in them."""
