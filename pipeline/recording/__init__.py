"""The recording participant: rules pick tracks, each is journalled as it arrives, then turned into
one .mka/.mkv per track span without transcoding, uploaded, and described in the room manifest."""
