"""The C-CARE dashboard: Scale, Active, woRth and Efficiency per merchant (issue 6)."""
