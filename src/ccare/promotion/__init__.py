"""Promotion platform (灯火): advertisers, plans, ad groups, creatives, placements."""
