"""Residents: how a resident can be reached, and every table that holds their data."""
