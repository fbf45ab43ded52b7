module daemon-decoder

go 1.26
