"""Lead routing, pure and deterministic: which route a lead takes and which agents it is offered to, with reasons."""
