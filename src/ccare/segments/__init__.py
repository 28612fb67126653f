"""Segments: rule trees over customers' events and profiles, sized, materialised, exported."""
