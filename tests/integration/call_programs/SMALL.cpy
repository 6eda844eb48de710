      * A copybook shorter than OVERRUN's LINKAGE record (8 of 4008).
       01  SMALL-REC.
           05  TAG                     PIC X(8).
