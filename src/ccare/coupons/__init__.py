"""Merchant coupons (商家券): activities, claims on every channel, redemption tied to orders."""
