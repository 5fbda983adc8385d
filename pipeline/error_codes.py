"""Twilio's error codes, in one place for every layer that reports them: the REST API, the
forwarding core and its signaling, the jobs that fail a composition, and the Python client.

Twilio's own code where one fits, so SDK users see the codes they already handle; other 53xxx
are roomreel's for its validation errors (docs/api.md). Plain numbers with no imports, so any
layer may import this module; `pipeline/api/errors.py` turns them into HTTP answers.
"""

from __future__ import annotations

# -- accounts, access tokens, HTTP --------------------------------------------------------
AUTH_FAILED = 20003
METHOD_NOT_ALLOWED = 20005
INVALID_TOKEN = 20101
INVALID_ISSUER = 20103
TOKEN_EXPIRED = 20104
TOKEN_NOT_YET_VALID = 20105
INVALID_SIGNATURE = 20107
FORBIDDEN = 20403
NOT_FOUND = 20404
TOO_MANY_REQUESTS = 20429
INTERNAL_ERROR = 20500

# -- signaling ------------------------------------------------------------------------------
SIGNALING_CONNECTION_ERROR = 53000
SIGNALING_DISCONNECTED = 53001  # the session to resume is gone
MESSAGE_INVALID = 53003

# -- rooms ----------------------------------------------------------------------------------
# As twilio-video.js 2.36 names them: 53100 RoomNameInvalidError, 53101 RoomNameTooLongError,
# 53102 RoomNameCharsInvalidError.
ROOM_NAME_REQUIRED = 53100
ROOM_NAME_TOO_LONG = 53101
ROOM_NAME_INVALID = 53102
ROOM_CREATE_FAILED = 53103
ROOM_FULL = 53105
ROOM_NOT_FOUND = 53106
ROOM_EXISTS = 53113
ROOM_COMPLETED = 53118
MAX_PARTICIPANT_DURATION_INVALID = 53123

# -- participants ---------------------------------------------------------------------------
DUPLICATE_IDENTITY = 53205
INVALID_SUBSCRIBE_RULES = 53215
PARTICIPANT_REMOVED = 53216  # disconnected through the REST API or by MaxParticipantDuration

# -- tracks ---------------------------------------------------------------------------------
TRACK_INVALID = 53300
TRACK_NAME_TOO_LONG = 53301
TRACK_NAME_INVALID = 53302
TRACK_NAME_DUPLICATED = 53304
TRACK_CAPACITY_REACHED = 53305

# -- parameters and media -------------------------------------------------------------------
INVALID_PARAMETER = 53400  # also a signaling message roomreel cannot use
UNKNOWN_PARAMETER = 53401
OFFER_REFUSED = 53402  # the client's offer could not be applied
NO_SUPPORTED_CODEC = 53404
MEDIA_CONNECTION_FAILED = 53405
HOOK_NAME_EXISTS = 53407
MEDIA_UNAVAILABLE = 53409

# -- compositions ---------------------------------------------------------------------------
LAYOUT_FAILED = 53501
MEDIA_FAILED = 53502
INTERNAL_FAILED = 53503
UPLOAD_FAILED = 53504
NOTHING_TO_COMPOSE = 53505  # a hook's room recorded nothing
