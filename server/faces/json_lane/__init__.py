"""The JSON lane: `POST /batch` and `POST /batch/columns` parsed from the request's bytes
(google.api.HttpBody) and answered as one flat JSON document streamed in pieces."""
