"""The one error type of the layout language."""


class LayoutError(ValueError):
    """A layout, resolution or source selection that cannot be used.

    `field` is the dotted path of the offending value (``video_layout.grid.reuse``)
    so that API errors and CLI messages can point at it.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field} {message}" if field else message)
