"""What a request may cost, checked before it costs it: per-method size caps and wire counts
before the parse (`request_bounds`, `wire_count`, `tensor_wire`), admission by memory and by
call count (`admission`, `call_gate`), and bounded looks at a JSON body for the decoders
(`json_bounds`)."""
