      * Call mode: one subprogram, one behaviour per ACTION, each the
      * way a real subprogram goes wrong. Compiled with -debug, so that
      * a subscript out of range is a libcob runtime error.
       IDENTIFICATION DIVISION.
       PROGRAM-ID. ACTIONS.
       DATA DIVISION.
       WORKING-STORAGE SECTION.
       01  WS-PTR                  USAGE POINTER.
       01  WS-TABLE.
           05  WS-ITEM             PIC 9 OCCURS 3 TIMES.
       01  WS-I                    PIC 9.
       01  WS-COMMAND              PIC X(80).
       01  WS-PID                  PIC S9(9) COMP-5.
       01  WS-PID-TEXT             PIC 9(9).
       LINKAGE SECTION.
       COPY ACTREQ.
       COPY ACTOUT.
       01  LK-NOWHERE              PIC X(4).
       PROCEDURE DIVISION USING ACT-REQ ACT-OUT.
           MOVE ACTION TO RESULT
           EVALUATE ACTION
               WHEN "DOUBLE"
                   COMPUTE DOUBLED = AMOUNT * 2
               WHEN "ENV"
                   ACCEPT REQUEST-ID FROM ENVIRONMENT
                       "LAMBDA_REQUEST_ID"
               WHEN "SEGV"
                   DISPLAY "ACTIONS: ABOUT TO CRASH" UPON SYSERR
                   SET WS-PTR TO NULL
                   SET WS-PTR UP BY 16
                   SET ADDRESS OF LK-NOWHERE TO WS-PTR
                   MOVE "BOOM" TO LK-NOWHERE
               WHEN "SUBSCR"
                   MOVE 7 TO WS-I
                   MOVE 1 TO WS-ITEM (WS-I)
               WHEN "STOPRUN"
                   DISPLAY "ACTIONS: STOPPING THE RUN" UPON SYSERR
                   MOVE 12 TO RETURN-CODE
                   STOP RUN
               WHEN "MISSING"
                   CALL "NOSUCHPROG" USING ACT-REQ
               WHEN "HANG"
                   DISPLAY "ACTIONS: HANGING" UPON SYSERR
                   PERFORM UNTIL WS-I > 9
                       CALL "C$SLEEP" USING 1
                   END-PERFORM
               WHEN "RC"
                   DISPLAY "ACTIONS: LEDGER CLOSED" UPON SYSERR
                   MOVE 4 TO RETURN-CODE
               WHEN "SHOUT"
                   DISPLAY "ACTIONS: A LINE ON STDOUT"
               WHEN "SPAWN"
                   MOVE "sleep 30 & echo $! > spawned.pid"
                       TO WS-COMMAND
                   CALL "SYSTEM" USING WS-COMMAND
                   ACCEPT REQUEST-ID FROM ENVIRONMENT
                       "LAMBDA_INVOKE_DIR"
               WHEN "SLOWPID"
                   CALL "C$SLEEP" USING 1
                   CALL "C$GETPID" RETURNING WS-PID
                   MOVE WS-PID TO WS-PID-TEXT
                   MOVE WS-PID-TEXT TO REQUEST-ID
               WHEN "SETENV"
                   SET ENVIRONMENT "ACTIONS_LEFT_THIS" TO "LEAKED"
               WHEN "GETENV"
                   ACCEPT REQUEST-ID FROM ENVIRONMENT
                       "ACTIONS_LEFT_THIS"
               WHEN "FDS"
                   MOVE "test ! -e /proc/self/fd/3" &
                        " -a ! -e /proc/self/fd/4" TO WS-COMMAND
                   CALL "SYSTEM" USING WS-COMMAND
                   MOVE RETURN-CODE TO COUNTED
                   MOVE 0 TO RETURN-CODE
           END-EVALUATE
           GOBACK.
