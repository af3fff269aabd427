//! Floats written as Python's `repr(float)` writes them (the JSON and CSV outputs' numbers).
//! TO BE PORTED (outputs helper).
