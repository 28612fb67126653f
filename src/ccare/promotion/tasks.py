"""No subscribers or jobs yet: pacing, billing and learning come with the decision API."""
