module weft.local/bench

go 1.19

require weft.local/weft v0.0.0

replace weft.local/weft => ../../bindings/go
