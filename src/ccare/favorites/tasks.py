"""Event subscribers and periodic jobs of this product."""
