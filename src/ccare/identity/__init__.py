"""Identity: operators, console/app sign-in sessions and principal resolution."""
