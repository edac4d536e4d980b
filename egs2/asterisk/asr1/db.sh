# Corpus roots (sourced by run.sh), as in ESPnet's egs2/*/db.sh.
ASTERISK=/usr/share   # where Debian puts asterisk/sounds/<voice>/ and doc/asterisk-core-sounds-<lang>/ (make sysdeps)
