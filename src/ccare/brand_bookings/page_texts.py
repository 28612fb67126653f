"""Words the brand-booking pages share: labels of this product's values and the human
texts of its errors."""

from __future__ import annotations

from ccare.web.i18n import N_

LABELS: dict[str, str] = {
    "reserved": N_("Reserved"),
    "delivering": N_("Delivering"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}

ERRORS: dict[str, str] = {
    "brand_bookings.placement_not_bookable": N_("Only brand placements can be booked."),
    "brand_bookings.bad_dates": N_("Choose an end day on or after the start day, 31 days at most."),
    "brand_bookings.start_in_past": N_("A booking starts tomorrow at the earliest."),
    "brand_bookings.sold_out": N_("Not enough impressions left on one of the days."),
    "brand_bookings.creative_not_approved": N_("Only an approved creative can be booked."),
    "brand_bookings.request_conflict": N_("This form was already submitted with other values."),
    "brand_bookings.already_started": N_("The booking has started and can no longer be cancelled."),
    "promotion.creative_not_found": N_("Choose one of your creatives."),
    "wallet.insufficient_funds": N_("Your advertising balance is not enough for this booking."),
}
