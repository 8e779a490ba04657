//! Sans-I/O decoder for the WHATWG HTML "event stream" format.
