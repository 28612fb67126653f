"""ISVs (service providers): their staff and the revocable grants merchants give them."""
