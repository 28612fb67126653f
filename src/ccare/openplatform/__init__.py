"""Open platform: developer apps, keys, signed calls, ISV app authorisation."""
