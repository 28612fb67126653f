"""繁星 incentive points: merchants earn points (free ad impressions) by running their own
channels well, and redeem them as free exposure for their ad groups."""
