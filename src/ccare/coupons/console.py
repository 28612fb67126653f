"""Coupon console pages (activities, stats per channel): not built yet."""
