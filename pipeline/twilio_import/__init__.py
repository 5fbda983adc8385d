"""`roomreel import-twilio`: a Twilio account's Video history (rooms, recordings, compositions,
hooks, settings) copied into roomreel through Twilio's own REST API, with its SIDs kept.

`source` reads the account with the official `twilio` client and streams media; `timing` places
each recording in its room from Twilio's fields; `copy` writes rows and media, one room at a
time, so an interrupted run resumes where it stopped."""
