from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """Names nested `Api.InputSerializer` / `Api.OutputSerializer` classes after their API.

    The house style nests one Input and one Output serializer in every API class;
    without this every component would be called "Output" and collide.
    """

    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        qualified = type(serializer).__qualname__.split(".")
        if len(qualified) >= 2 and qualified[-1] in {"InputSerializer", "OutputSerializer"}:
            owner = qualified[-2].removesuffix("Api")
            return owner + qualified[-1].removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
