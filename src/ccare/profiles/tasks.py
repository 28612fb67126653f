"""Event subscribers and periodic jobs of this product: none.

Profiles need no subscriber of their own: every delivered event (the platform's and the
merchants' `customer.event`s) lands in the analytics store, and the profile queries
(queries.py) read it there, so there is no second copy to keep in step.
"""
