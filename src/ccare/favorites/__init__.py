"""Favorites: consumers favorite mini-programs; gifts before, benefits after; recall."""
