"""Several `roomreel serve` nodes as one cluster on Redis (docs/design.md, "Rooms across nodes").

A room lives on one node. Nodes announce themselves and their load in Redis (`registry`); a room
is placed on the least-loaded live node and the placement is stored with the room (`placement`);
a signaling socket that reaches another node is relayed to the room's node (`relay`); REST
operations on a live room reach its node through Redis (`commands`, `live_rooms`). `node` ties
these together for one process.
"""
