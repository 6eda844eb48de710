      * ACTIONS' output.
       01  ACT-OUT.
           05  RESULT                  PIC X(8).
           05  DOUBLED                 PIC S9(6)V99 COMP-3.
           05  REQUEST-ID              PIC X(36).
           05  COUNTED                 PIC 9(4) COMP.
