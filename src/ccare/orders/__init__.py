"""Orders: the trade component other products attach to (discounts, payments, refunds)."""
