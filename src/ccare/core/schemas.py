"""Base request/response models shared by every product's schemas.py."""

from pydantic import BaseModel, ConfigDict, field_validator


class StrictInput(BaseModel):
    """Request bodies: unknown fields are an error, and so are NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; refuse it here as a 422, not at INSERT as a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
