"""The seam between the core and each network: typed remote events and connector protocols."""
