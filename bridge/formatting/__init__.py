"""Network-neutral formatted text: Matrix HTML in and out, and what every connector shares."""
