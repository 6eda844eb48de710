      * Stdio mode: ACCEPT reads the event line, DISPLAY writes the response.
       IDENTIFICATION DIVISION.
       PROGRAM-ID. GREET.
       DATA DIVISION.
       WORKING-STORAGE SECTION.
       01 WS-NAME PIC X(40).
       PROCEDURE DIVISION.
           ACCEPT WS-NAME
           IF WS-NAME = SPACES
               DISPLAY "GREET: no name given" UPON SYSERR
               MOVE 4 TO RETURN-CODE
               STOP RUN
           END-IF
           DISPLAY "HELLO, " FUNCTION TRIM(WS-NAME) "!"
           STOP RUN.
