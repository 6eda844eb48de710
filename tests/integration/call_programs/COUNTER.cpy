      * COUNTER's one parameter: how many times it was CALLed.
       01  COUNTER-REC.
           05  CALLS                   PIC 9(4).
